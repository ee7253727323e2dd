use ghl::oauth::{OAuthApp, UserType};
use ghl::{CompanyId, Error, LocationId};
use ghl_sim::{LocationSpec, Resource, Simulator};
use secrecy::ExposeSecret;

#[tokio::test]
async fn code_exchange_refresh_rotation_and_location_tokens() {
    let sim = Simulator::builder().start().await.unwrap();
    let (company, loc) = sim.with_world(|w| {
        let company = w.add_company("Agency");
        let mut spec = LocationSpec::new("Sub");
        spec.company_id = Some(company.clone());
        let loc = w.create_location(&spec);
        w.add_oauth_app("app-1", "s3cret");
        (company, loc)
    });
    let client = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let app = OAuthApp::new("app-1", "s3cret");

    // A location install.
    let code = sim
        .with_world(|w| w.issue_auth_code("app-1", Resource::Location(loc.id.clone())))
        .unwrap();
    let grant = client
        .exchange_code(
            &app,
            &code,
            Some("https://app/cb"),
            Some(UserType::Location),
        )
        .await
        .unwrap()
        .data;
    assert_eq!(grant.user_type, Some(UserType::Location));
    assert_eq!(
        grant.location_id.as_ref().map(LocationId::as_str),
        Some(loc.id.as_str())
    );
    assert_eq!(grant.expires_in, Some(86_399));
    let location_client = client.with_token(grant.access_token.expose_secret());
    location_client
        .list_custom_fields(&LocationId::new(&loc.id), None)
        .await
        .unwrap();

    // A code works once.
    let reused = client
        .exchange_code(&app, &code, None, None)
        .await
        .unwrap_err();
    assert!(matches!(reused, Error::BadRequest { .. }), "{reused:?}");

    // Refresh rotates: the new refresh token works, the old one is spent.
    let old_refresh = grant.refresh_token.clone().unwrap();
    let refreshed = client
        .refresh_access_token(&app, &old_refresh, Some(UserType::Location))
        .await
        .unwrap()
        .data;
    assert_ne!(
        refreshed.access_token.expose_secret(),
        grant.access_token.expose_secret()
    );
    let again = client
        .refresh_access_token(&app, &old_refresh, None)
        .await
        .unwrap_err();
    assert!(matches!(again, Error::BadRequest { .. }), "{again:?}");
    client
        .refresh_access_token(&app, refreshed.refresh_token.as_ref().unwrap(), None)
        .await
        .unwrap();

    // Wrong client secret.
    let bad = client
        .exchange_code(&OAuthApp::new("app-1", "nope"), "x", None, None)
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::Unauthorized { .. }), "{bad:?}");

    // An agency install mints location tokens.
    let code = sim
        .with_world(|w| w.issue_auth_code("app-1", Resource::Company(company.clone())))
        .unwrap();
    let agency = client
        .exchange_code(&app, &code, None, Some(UserType::Company))
        .await
        .unwrap()
        .data;
    assert_eq!(agency.user_type, Some(UserType::Company));
    assert_eq!(agency.approved_locations, vec![LocationId::new(&loc.id)]);
    let agency_client = client.with_token(agency.access_token.expose_secret());
    // An agency token is not a location token.
    let scope = agency_client
        .list_custom_fields(&LocationId::new(&loc.id), None)
        .await
        .unwrap_err();
    assert!(
        matches!(scope, Error::Unauthorized { ref message, .. } if message.contains("scope")),
        "{scope:?}"
    );
    let minted = agency_client
        .location_token(&CompanyId::new(&company), &LocationId::new(&loc.id))
        .await
        .unwrap()
        .data;
    assert!(minted.refresh_token.is_some());
    client
        .with_token(minted.access_token.expose_secret())
        .list_pipelines(&LocationId::new(&loc.id))
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let sim = Simulator::builder().start().await.unwrap();
    let loc = sim.add_location(LocationSpec::new("L"));
    sim.with_world(|w| {
        w.add_oauth_app("app", "sec");
        w.set_access_token_ttl(0);
    });
    let code = sim
        .with_world(|w| w.issue_auth_code("app", Resource::Location(loc.id.clone())))
        .unwrap();
    let client = ghl::Client::builder()
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let grant = client
        .exchange_code(&OAuthApp::new("app", "sec"), &code, None, None)
        .await
        .unwrap()
        .data;
    let err = client
        .with_token(grant.access_token.expose_secret())
        .list_pipelines(&LocationId::new(&loc.id))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}
