//! TEMPORARY
pub fn test_api_url(value: &str) -> Result<url::Url, String> {
    url::Url::parse(value).map_err(|e| e.to_string())
}
