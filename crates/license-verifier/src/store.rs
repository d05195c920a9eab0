//! The local key file: the last signed answer and the latest time this installation has seen.
//!
//! The answer keeps its server signature and is verified again on every load, so editing the
//! file (to extend the grace, say) makes it untrusted rather than useful. The last-seen time is
//! this installation's own clock at its latest check, never the server's `issued_at`: rollback
//! is a local clock going back against its own earlier readings, and a clock that merely runs
//! behind the server's must not look like one (it would refuse every check after each online
//! one). The last-seen time is not signed (nothing local can sign it).

use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::protocol::{Answer, PublicKey, SignedAnswer};

#[derive(Debug, Serialize, Deserialize)]
struct FileFormat {
    /// Format version; 1.
    v: u32,
    answer: SignedAnswer,
    last_seen: i64,
}

/// A trusted local answer.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub answer: Answer,
    pub signed: SignedAnswer,
    pub last_seen: i64,
}

impl Local {
    /// The latest local clock reading of a check: the clock must not be before it.
    pub(crate) fn seen(&self) -> i64 {
        self.last_seen
    }
}

pub(crate) enum Loaded {
    Missing,
    /// Present but not trusted, and why.
    Ignored(String),
    Trusted(Box<Local>),
}

pub(crate) fn load(path: &Path, pinned: &[PublicKey]) -> Loaded {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::Missing,
        Err(e) => return Loaded::Ignored(format!("cannot read it: {e}")),
    };
    let file: FileFormat = match serde_json::from_slice(&bytes) {
        Ok(f) => f,
        Err(e) => return Loaded::Ignored(format!("it is not a saved answer: {e}")),
    };
    if file.v != 1 {
        return Loaded::Ignored(format!("unknown format version {}", file.v));
    }
    match file.answer.verify(pinned) {
        Ok(answer) => Loaded::Trusted(Box::new(Local {
            answer,
            signed: file.answer,
            last_seen: file.last_seen,
        })),
        Err(e) => Loaded::Ignored(format!("{e} (changed after it was saved?)")),
    }
}

/// Saves made by this process, numbering their temporary files.
static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes through a temporary file and a rename, so a crash or a full disk never leaves half a
/// file (which would cost the installation its offline grace).
pub(crate) fn save(path: &Path, answer: &SignedAnswer, last_seen: i64) -> std::io::Result<()> {
    let body = serde_json::to_vec_pretty(&FileFormat {
        v: 1,
        answer: answer.clone(),
        last_seen,
    })
    .map_err(std::io::Error::other)?;
    let name = path.file_name().map_or_else(
        || "license".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    // Unique per process and per save, so two checks at once (the scheduler and the doctor,
    // two threads of one process) never write the same temporary file.
    let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        // A leftover of a crashed save with the same name would make `create_new` fail.
        let _ = std::fs::remove_file(&tmp);
        let mut f = create_private(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Creates a new file readable and writable by its owner only: the answer names the licence
/// key, which is a bearer secret, so other users of the machine must not read it.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}
