//! Stored Vertex AI service accounts (docs/keys.md): the gateway mints an access token at the
//! JSON's `token_uri` (here a test server that checks the signed assertion), sends it as the
//! request's bearer token, reuses it until shortly before it expires, then mints another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use tollgate_gateway::clock::ManualClock;
use tollgate_mock_upstream::{Behavior, MockUpstream};

use crate::support::TestGateway;

/// A throwaway RSA key made for this test (`openssl genpkey -algorithm RSA`), nothing else.
const TEST_KEY: &str = r#"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDdaC4/zDFr1/Tp
EzB52Jce5bmGSYUjJPnSO1xmcJQJ5ZzSAGLUYej3/Sq3vWabNYCM0w0xoCll72eZ
LOTg/Di4VmoJCnFbR/hiuKwRI7/Y6wyZHdrFXUouZFmgNpcUyU1XGgR8HMGPzRLY
kq3/sBm3yF/CJl/OzKOXxhhy89P+GfS/Xm8+NXKX+m+bKdLzULaMh4Nf86QE5SKs
9aTRDwHDQicLMSV9+G6TGm/BKxY9eD6y+SeOiDKeeHQi9AWq4JC9nWF3XQ/V6NRu
v/Sml4OJmJkGELE5h1Xye+ZXupx5zt/BcevqQ5sp6e2czTKfRBpbWZGyU6Cc+gTh
tYp8BMNPAgMBAAECggEADp+uSQHK/zKDt06l1FvH738rjSvB+Budxz2rJrZSMNfS
TynosoUdBsmD+XWFwhlQj6dI/Hl1rTPuMHcp+ZTvMiMTBzHXYY4UC9aNbDxjlDJC
N216C7B+Zn4I+sS1nzvZ4zeRYEPjTQTginQgZf5S/zPkOfCgQgp7gQTRN0EqRA2C
C+bP0wEG7O+TboxK0d2SC18gGKinqapCahYIhK1asQM+q+hXHtN/us7hG3Z+r/qn
2OvUaPNNqbgBP4k1Hfjq6jRBYgWRIGpr5f3XDPks3K8PBoVT+6RI1lvAuPPJGDg5
HmazEPPtcwNDwb2P1oaDLZA6fVA/24Hp1f36ARqd0QKBgQDyHYG4Z0mUeCkdEGwm
gt0WgY/b6RV6f59AKkotDXMP4c2M6LXiaeTQDQ/HU2wdc520y2GG8zJYjNo/6IMR
lR5X5RO14AMBTgf/eWCU20d0Vv7R9JXzBh5zdPnxNPk1e3aKO3OxQa+B+h+Vz/CY
sorvMNWS/rFT5lsd29h2PhuDuwKBgQDqGqfHpXgI+9Sc0LNrprg7zYy4T/zbW3IJ
1pVkcTbP86KXvYcbs11k0tlW874ijZvH8s8FxRsHoCCIPDBBInO/xx7jAmEqIXky
7Z7ypsAe7/k/bLFb7j0hu5IE8ZlrpUe8J5Nz40Qd0qktwD71Ey70b9L21+cR8STg
Aq5bstrDfQKBgErwgR9PsQGoc6lQVPlSlhYKQjniGkjRSbx1moH5YLzwuku8F9gd
yLnw4QpkMtmm2JCGRwibK+Emr8MKN89wZXT1LbWkwalcurMDobZRbPuAldzspKEV
KsW31kkniV9ZeKZuom+iEi3b+nzHYQQSd1hzuBeIh+CdM2S5kHWA4clTAoGBANAD
eVvbusn4wpXIl/Sqwn9ZCJXpdRuQqMb3Je2G75ZdvPap0LibavwgokAx+puHSomj
RbKxzm+7J80F9jaaH1Gj490Ai0e9UI0hOSARbRrQTp+9u+aczTMBESFVb+aHiTM1
0z6hDTCWs/7UGNz4+7r09faiJ074/7QQjc8rIFmdAoGBAM4dNO5XI9o5+HG7psHp
8StGDHUBv2X74S0UBLi4JmUTYaOMFDQrqyGvlJWw9LzLHkoYvBv1yDKRQ1Vt3uND
eNs529HZ0cDiWZPUuORshzJskVp6YtwwupvgIXOIdbi5yHcw6E5OtYguWZnBlOe5
peQADWr288ICGC+MCIxyoIEH
-----END PRIVATE KEY-----
"#;

const EMAIL: &str = "tollgate-test@project.iam.gserviceaccount.com";

/// The token endpoint: checks each assertion's signature and claims, counts the mints and
/// answers `token-N` valid for an hour.
#[expect(
    clippy::disallowed_methods,
    reason = "a fake token endpoint for this test, which ends with the test's runtime"
)]
async fn token_endpoint(mints: Arc<AtomicUsize>) -> String {
    let der = STANDARD
        .decode(
            TEST_KEY
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let public = key.public().as_ref().to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let audience = url.clone();
    let app =
        axum::Router::new().route(
            "/token",
            axum::routing::post(move |body: String| {
                let (mints, public, audience) = (mints.clone(), public.clone(), audience.clone());
                async move {
                    let assertion = body
                        .split('&')
                        .find_map(|pair| pair.strip_prefix("assertion="))
                        .unwrap();
                    assert!(body.contains(
                        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                    ));
                    let (signed, signature) = assertion.rsplit_once('.').unwrap();
                    ring::signature::UnparsedPublicKey::new(
                        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                        &public,
                    )
                    .verify(
                        signed.as_bytes(),
                        &URL_SAFE_NO_PAD.decode(signature).unwrap(),
                    )
                    .expect("the assertion is signed with the account's key");
                    let claims: Value = serde_json::from_slice(
                        &URL_SAFE_NO_PAD
                            .decode(signed.split('.').nth(1).unwrap())
                            .unwrap(),
                    )
                    .unwrap();
                    assert_eq!(claims["iss"], EMAIL);
                    assert_eq!(claims["aud"], audience);
                    assert_eq!(
                        claims["scope"],
                        "https://www.googleapis.com/auth/cloud-platform"
                    );
                    let n = mints.fetch_add(1, Ordering::SeqCst) + 1;
                    axum::Json(
                        json!({"access_token": format!("token-{n}"), "expires_in": 3600,
                                  "token_type": "Bearer"}),
                    )
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_stored_service_account_mints_a_token_once_and_reuses_it_until_near_expiry() {
    let mints = Arc::new(AtomicUsize::new(0));
    let token_uri = token_endpoint(mints.clone()).await;
    let mock = MockUpstream::start().await.unwrap();
    let sections = format!(
        "[providers.google-vertex-ai]\nbase_url = \"{}\"\n",
        mock.url()
    );
    let clock = ManualClock::new(1_800_000_000_000);
    let gw = TestGateway::build("", &sections, Some(clock.clone()), Some(mock)).await;
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
    let secret = json!({"type": "service_account", "project_id": "p", "private_key_id": "k1",
                        "private_key": TEST_KEY, "client_email": EMAIL, "token_uri": token_uri})
    .to_string();
    let (status, created) = gw
        .admin(
            Method::POST,
            "/accounts/local/ai-gateway/gateways/gw/provider_configs",
            Some(json!({"default_config": true, "provider_slug": "google-vertex-ai", "secret": secret})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert!(!created.to_string().contains("PRIVATE KEY"));
    assert_eq!(created["result"]["secret_preview"], "toll....com");

    let path = "/v1/local/gw/google-vertex-ai/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent";
    let call = || {
        gw.mock.push(Behavior::status(200).with_body("{}"));
        gw.http
            .post(gw.url(path))
            .header("cf-aig-authorization", format!("Bearer {token}"))
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
            .send()
    };
    let sent = |gw: &TestGateway| {
        gw.mock
            .requests()
            .last()
            .and_then(|r| r.header("authorization").map(str::to_owned))
    };
    // Several requests, concurrent ones included: one mint.
    let (a, b) = tokio::join!(call(), call());
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert_eq!(call().await.unwrap().status(), 200);
    assert_eq!(mints.load(Ordering::SeqCst), 1);
    assert_eq!(sent(&gw).as_deref(), Some("Bearer token-1"));

    // Still well within the hour: the same token.
    clock.advance(Duration::from_secs(50 * 60));
    call().await.unwrap();
    assert_eq!(mints.load(Ordering::SeqCst), 1);
    // Within five minutes of its expiry: a new one.
    clock.advance(Duration::from_secs(6 * 60));
    call().await.unwrap();
    assert_eq!(mints.load(Ordering::SeqCst), 2);
    assert_eq!(sent(&gw).as_deref(), Some("Bearer token-2"));
}
