//! Stored AWS credentials sign Bedrock requests (docs/keys.md): the signature the upstream
//! receives is checked here by an implementation of SigV4 of its own (HMAC-SHA256 written out
//! from the specification), not by the signer the gateway uses.

use reqwest::Method;
use serde_json::json;
use sha2::{Digest, Sha256};
use tollgate_mock_upstream::{Behavior, RecordedRequest};

use crate::support::TestGateway;

const ACCESS_KEY_ID: &str = "AKIDTOLLGATETEST0001";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTOLLGATEKEY";
const REGION: &str = "us-west-2";

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 (RFC 2104) over a 64-byte block.
fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::digest([pad(0x36), data.to_vec()].concat());
    Sha256::digest([pad(0x5c), inner.to_vec()].concat()).to_vec()
}

/// SigV4's UriEncode: unreserved characters kept, everything else %XX (upper case).
fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Checks the request's SigV4 signature against the secret; Err says what does not match.
fn verify(request: &RecordedRequest, body: &[u8]) -> Result<(), String> {
    let authorization = request.header("authorization").ok_or("no authorization")?;
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .ok_or("not SigV4")?;
    let (credential, rest) = rest
        .split_once(", SignedHeaders=")
        .ok_or("no SignedHeaders")?;
    let (signed_headers, signature) = rest.split_once(", Signature=").ok_or("no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return Err(format!("bad scope {credential}"));
    };
    if *key_id != ACCESS_KEY_ID || *region != REGION || *service != "bedrock" {
        return Err(format!("unexpected scope {credential}"));
    }
    let amz_date = request.header("x-amz-date").ok_or("no x-amz-date")?;
    let (path, query) = request
        .path_and_query
        .split_once('?')
        .unwrap_or((&request.path_and_query, ""));
    assert!(query.is_empty(), "the test sends no query");
    // Every service but S3 encodes the (already encoded) path once more.
    let canonical_uri: Vec<String> = path.split('/').map(uri_encode).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let value = request
            .header(name)
            .ok_or(format!("signed header {name} missing"))?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim()));
    }
    let canonical_request = [
        request.method.as_str(),
        &canonical_uri.join("/"),
        "",
        &canonical_headers,
        signed_headers,
        &sha256_hex(body),
    ]
    .join("\n");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac(
        format!("AWS4{SECRET_ACCESS_KEY}").as_bytes(),
        date.as_bytes(),
    );
    for part in [*region, *service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let expected = hex(&hmac(&key, string_to_sign.as_bytes()));
    if expected == signature {
        Ok(())
    } else {
        Err(format!("signature {signature} != {expected}"))
    }
}

#[tokio::test]
async fn a_stored_aws_key_signs_bedrock_requests_as_aws_checks_them() {
    let sections = "[providers.aws-bedrock]\nbase_url = \"MOCK\"\n";
    let mock = tollgate_mock_upstream::MockUpstream::start().await.unwrap();
    let sections = sections.replace("MOCK", &mock.url());
    let gw = TestGateway::build("", &sections, None, Some(mock)).await;
    gw.create_gateway(json!({"id": "gw", "authentication": true}))
        .await;
    let (_, token) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/tokens",
            Some(json!({"name": "app"})),
        )
        .await;
    let token = token["result"]["token"].as_str().unwrap().to_owned();
    let secret = json!({"accessKeyId": ACCESS_KEY_ID, "secretAccessKey": SECRET_ACCESS_KEY,
                        "region": REGION})
    .to_string();
    let (status, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/gw/provider_configs",
            Some(json!({"default_config": true, "provider_slug": "aws-bedrock", "secret": secret})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["result"]["secret_preview"], "AKID...0001");
    assert!(!created.to_string().contains(SECRET_ACCESS_KEY));

    let body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    gw.mock.push(Behavior::status(200).with_body("{}"));
    let response =
        gw.http
            .post(gw.url(
                "/v1/local/gw/aws-bedrock/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
            ))
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    let sent = gw.mock.requests().last().unwrap().clone();
    assert_eq!(verify(&sent, body.as_bytes()), Ok(()));
    // The check is a real one: another body does not pass.
    assert!(verify(&sent, b"{}").is_err());
    assert!(
        sent.header("authorization")
            .is_some_and(|a| a.contains("SignedHeaders=content-type;host;x-amz-date"))
    );

    // AWS refusing the key marks it invalid.
    gw.mock.push(Behavior::status(403).with_body("{}"));
    let response = gw
        .http
        .post(gw.url("/v1/local/gw/aws-bedrock/model/m/invoke"))
        .header("cf-aig-authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let id = created["result"]["id"].as_str().unwrap();
    let (_, shown) = gw
        .admin(
            Method::GET,
            &format!("/accounts/local/ai-gateway/gateways/gw/provider_configs/{id}"),
            None,
        )
        .await;
    assert_eq!(shown["result"]["status"], "invalid");
}
