//! Stored AWS credentials (Bedrock, docs/keys.md): the secret is the JSON
//! `{accessKeyId, secretAccessKey, region, sessionToken?}`, and each request is signed with
//! AWS Signature Version 4 by AWS's own signer (`aws-sigv4`) once its URL and body are final.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use serde::Deserialize;

use super::secret::SecretText;

/// AWS credentials as stored, the secret parts wiped when dropped and never printed.
#[derive(Debug, Clone)]
pub struct AwsKey {
    pub access_key_id: String,
    secret_access_key: SecretText,
    pub region: String,
    session_token: Option<SecretText>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Raw {
    access_key_id: String,
    secret_access_key: String,
    region: String,
    #[serde(default)]
    session_token: Option<String>,
}

/// Headers of the request that the signature covers, besides `host` (added by the signer):
/// what AWS's own SDKs sign for Bedrock.
fn signed(name: &HeaderName) -> bool {
    name == header::CONTENT_TYPE || name.as_str().starts_with("x-amz-")
}

impl AwsKey {
    /// The credentials a stored secret holds; the error never quotes the secret.
    pub fn parse(secret: &str) -> Result<AwsKey, String> {
        let raw: Raw = serde_json::from_str(secret).map_err(|e| {
            // serde's message names a field or a position, never a value.
            let why = e.to_string();
            let why = why.split(" at line").next().unwrap_or("").to_owned();
            format!(
                "must be a JSON object {{\"accessKeyId\", \"secretAccessKey\", \"region\", \
                 \"sessionToken\"?}} ({why})"
            )
        })?;
        let region_ok = !raw.region.is_empty()
            && raw.region.len() <= 32
            && raw
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            return Err("region must be an AWS region such as us-east-1".into());
        }
        let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(&raw.access_key_id) || !printable(&raw.secret_access_key) {
            return Err("accessKeyId and secretAccessKey must be non-empty printable ASCII".into());
        }
        Ok(AwsKey {
            access_key_id: raw.access_key_id,
            secret_access_key: SecretText::new(raw.secret_access_key),
            region: raw.region,
            session_token: raw.session_token.map(SecretText::new),
        })
    }

    /// Signs the request for `service`: sets `authorization`, `x-amz-date` and, with a session
    /// token, `x-amz-security-token` in `headers`.
    pub fn sign(
        &self,
        service: &str,
        method: &Method,
        url: &str,
        body: &[u8],
        headers: &mut HeaderMap,
        now: SystemTime,
    ) -> Result<(), String> {
        let identity: Identity = Credentials::new(
            self.access_key_id.clone(),
            self.secret_access_key.expose().to_owned(),
            self.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "tollgate-stored-key",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let covered: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| signed(name))
            .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
            .collect();
        let request = SignableRequest::new(
            method.as_str(),
            url,
            covered.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let (added, _query) = instructions.into_parts();
        for header in added {
            let name = HeaderName::from_static(header.name());
            let mut value = HeaderValue::from_str(header.value()).map_err(|e| e.to_string())?;
            value.set_sensitive(header.sensitive() || name == header::AUTHORIZATION);
            headers.insert(name, value);
        }
        Ok(())
    }
}

/// The access key id of a SigV4 `authorization` header (`AWS4-HMAC-SHA256 Credential=AKID/…`).
pub fn access_key_id_of(authorization: &[u8]) -> Option<&[u8]> {
    let rest = authorization.strip_prefix(b"AWS4-HMAC-SHA256 Credential=")?;
    let end = rest.iter().position(|b| *b == b'/')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = r#"{"accessKeyId":"AKIDEXAMPLE","secretAccessKey":"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY","region":"us-east-1"}"#;

    #[test]
    fn credentials_parse_without_quoting_the_secret() {
        let key = AwsKey::parse(KEY).ok();
        assert_eq!(key.as_ref().map(|k| k.region.as_str()), Some("us-east-1"));
        assert!(!format!("{key:?}").contains("wJalr"));
        for bad in [
            r#"{"accessKeyId":"A","secretAccessKey":"hunter2-secret","region":"Not A Region"}"#,
            r#"{"accessKeyId":"A","secretAccessKey":"hunter2-secret"}"#,
            "hunter2-secret",
        ] {
            let error = AwsKey::parse(bad).err().unwrap_or_default();
            assert!(!error.is_empty() && !error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn a_signature_names_the_key_and_covers_the_content_type() -> Result<(), String> {
        let key = AwsKey::parse(KEY)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        key.sign(
            "bedrock",
            &Method::POST,
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke",
            b"{}",
            &mut headers,
            SystemTime::UNIX_EPOCH,
        )?;
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19700101/us-east-1/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{authorization}"
        );
        assert_eq!(
            access_key_id_of(authorization.as_bytes()),
            Some(&b"AKIDEXAMPLE"[..])
        );
        assert!(headers.contains_key("x-amz-date"));
        Ok(())
    }
}
