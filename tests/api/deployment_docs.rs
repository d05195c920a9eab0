//! The deployment guide's files (docs/deployment/) are checked, not just shown: the node
//! configuration loads through Portcullis's own loader with the secrets the unit provides, the
//! nginx site passes `nginx -t`, and the two agree (the header nginx sets is the one Portcullis
//! reads, from the address Portcullis trusts).

use std::path::{Path, PathBuf};

fn guide(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/deployment")
        .join(file)
}

fn node_config() -> portcullis::config::Config {
    let vars = [
        (
            "PORTCULLIS__DATABASE__URL",
            "postgres://portcullis:secret@db.internal:5432/portcullis?sslmode=verify-full",
        ),
        (
            "PORTCULLIS__TWO_FACTOR__SECRET_KEY",
            "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=",
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let figment =
        portcullis::config::figment(Some(&guide("portcullis.toml")), vars).expect("file found");
    let raw: portcullis::config::RawConfig = figment.extract().expect("every key is known");
    raw.validate().expect("the guide's configuration is valid")
}

#[test]
fn the_node_configuration_loads_with_the_units_secrets() {
    let config = node_config();
    assert!(config.system_url.is_https());
    assert!(config.database_url.starts_with("postgres://"));
    assert!(config.scheduler_enabled);
    let unit = std::fs::read_to_string(guide("portcullis.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/portcullis serve"));
    assert!(unit.contains("EnvironmentFile=/etc/portcullis/secrets.env"));
    assert!(unit.contains("PORTCULLIS_CONFIG=/etc/portcullis/portcullis.toml"));
}

#[test]
fn nginx_sets_the_header_portcullis_reads_and_redirects_http() {
    let site = std::fs::read_to_string(guide("nginx.conf")).unwrap();
    let toml: toml::Value = std::fs::read_to_string(guide("portcullis.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let header = toml["proxy"]["header"].as_str().unwrap();
    assert!(
        site.contains(&format!("proxy_set_header {header} $remote_addr;")),
        "nginx must replace {header} with the peer address"
    );
    let system_host = url::Url::parse(toml["server"]["system_url"].as_str().unwrap())
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    assert!(site.contains(&format!("server_name {system_host};")));
    assert!(site.contains(&format!("return 301 https://{system_host}$request_uri;")));
    assert!(site.contains("proxy_set_header Host $host;"));
    assert!(site.contains("proxy_set_header X-Forwarded-Proto $scheme;"));
    // The load balancer the guide puts at 10.0.0.10 is the one trusted proxy.
    let trusted = toml["proxy"]["trusted"].as_array().unwrap();
    assert_eq!(trusted.len(), 1);
    assert!(site.contains(&format!("({})", trusted[0].as_str().unwrap())));
}

#[test]
fn nginx_accepts_the_site_configuration() {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is installed (scripts/test installs nginx-light)");
    let dir = tempfile::tempdir().unwrap();
    // The guide's certificate paths become a throwaway certificate; nothing else changes.
    let issued = rcgen::generate_simple_self_signed(vec!["portal.example.com".to_owned()]).unwrap();
    let (crt, key) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    std::fs::write(&crt, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    let site = std::fs::read_to_string(guide("nginx.conf"))
        .unwrap()
        .replace(
            "/etc/letsencrypt/live/portal.example.com/fullchain.pem",
            crt.to_str().unwrap(),
        )
        .replace(
            "/etc/letsencrypt/live/portal.example.com/privkey.pem",
            key.to_str().unwrap(),
        );
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    // What Debian's /etc/nginx/nginx.conf provides around a site, pointed at the temp folder.
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let output = std::process::Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nginx -t: {said}");
    assert!(said.contains("syntax is ok"), "{said}");
}
