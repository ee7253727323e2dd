use std::time::Duration;

use ghl::contacts::{ContactFields, NewContact};
use ghl::{Error, RateLimitScope};
use ghl_sim::{FaultAction, FaultConfig, FaultRule, Limits};

use crate::Env;

fn contact(env: &Env, email: &str) -> NewContact {
    let mut new = NewContact::new(env.location_id());
    new.fields = ContactFields {
        email: Some(email.into()),
        ..ContactFields::default()
    };
    new
}

#[tokio::test]
async fn validation_errors_keep_ghls_messages() {
    let env = Env::new().await;
    let err = env
        .client
        .create_contact(&contact(&env, "not-an-email"))
        .await
        .unwrap_err();
    match err {
        Error::Validation { messages, reply } => {
            assert_eq!(messages, vec!["email must be an email"]);
            assert_eq!(reply.status, 422);
            assert!(
                reply.rate_limit.is_known(),
                "errors carry the rate-limit headers too"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthorized_and_not_transient() {
    let env = Env::new().await;
    let err = env
        .client
        .with_token("pit-wrong")
        .create_contact(&contact(&env, "a@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { ref message, .. } if message == "Invalid JWT"),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let no_token = ghl::Client::builder()
        .base_url(env.sim.base_url())
        .build()
        .unwrap();
    assert!(matches!(
        no_token.get_contact(&"x".into()).await,
        Err(Error::MissingToken)
    ));
}

#[tokio::test]
async fn rate_limits_are_classified_with_their_wait() {
    let env = Env::new().await;
    env.sim.set_limits(Limits {
        max: 2,
        interval_ms: 1_500,
        daily: 200_000,
    });
    for i in 0..2 {
        let r = env
            .client
            .create_contact(&contact(&env, &format!("r{i}@example.com")))
            .await
            .unwrap();
        assert_eq!(r.rate_limit().remaining, Some(1 - i));
    }
    let err = env
        .client
        .create_contact(&contact(&env, "r2@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                scope: RateLimitScope::Burst,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_millis(1_500)));

    env.sim.set_limits(Limits {
        max: 100,
        interval_ms: 10_000,
        daily: 2,
    });
    let err = env
        .client
        .create_contact(&contact(&env, "r3@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                scope: RateLimitScope::Daily,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_errors_timeouts_and_transport_failures_are_transient() {
    let env = Env::new().await;
    env.sim.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Status { status: 503 }).times(1)],
        hang_ms: None,
    });
    let err = env
        .client
        .create_contact(&contact(&env, "s@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Server { ref reply, .. } if reply.status == 503),
        "{err:?}"
    );
    assert!(err.is_transient());

    env.sim.set_faults(FaultConfig {
        rules: vec![FaultRule::always(FaultAction::Hang).times(1)],
        hang_ms: Some(2_000),
    });
    let impatient = ghl::Client::builder()
        .base_url(env.sim.base_url())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap()
        .with_token(&env.loc.token);
    let err = impatient
        .create_contact(&contact(&env, "t@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.is_transient());

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let nowhere = ghl::Client::builder()
        .base_url(format!("http://{closed}"))
        .build()
        .unwrap()
        .with_token("x");
    let err = nowhere.get_contact(&"c".into()).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_transient());
}

#[test]
fn base_url_must_be_http() {
    assert!(matches!(
        ghl::Client::builder().base_url("mailto:x@y").build(),
        Err(Error::InvalidBaseUrl(_))
    ));
    assert!(matches!(
        ghl::Client::builder().base_url("not a url").build(),
        Err(Error::InvalidBaseUrl(_))
    ));
    let white_label = ghl::Client::builder()
        .base_url("https://services.example.com")
        .build()
        .unwrap();
    assert_eq!(
        white_label.base_url().as_str(),
        "https://services.example.com/"
    );
}
