use ghl::contacts::{ContactFields, NewContact};
use ghl::conversations::MessageQuery;
use ghl::{ConversationId, MessageId};
use ghl_sim::{CallSpec, Sentence};

use crate::Env;

#[tokio::test]
async fn calls_messages_and_transcripts_in_both_list_shapes() {
    let env = Env::new().await;
    let mut new = NewContact::new(env.location_id());
    new.fields = ContactFields {
        phone: Some("+34600111222".into()),
        ..ContactFields::default()
    };
    let contact = env.client.create_contact(&new).await.unwrap().data;
    let call = |secs: u32| CallSpec {
        contact_id: contact.id.to_string(),
        direction: "outbound".into(),
        duration_s: secs,
        status: "completed".into(),
        transcript: vec![
            Sentence {
                media_channel: 1,
                transcript: "Hola, soy Ana.".into(),
            },
            Sentence {
                media_channel: 2,
                transcript: "Buenos días.".into(),
            },
        ],
    };
    let (conversation, first) = env.sim.add_call(&env.loc.id, &call(30)).unwrap();
    let (_, second) = env.sim.add_call(&env.loc.id, &call(95)).unwrap();

    let found = env
        .client
        .search_conversations(&env.location_id(), &contact.id)
        .await
        .unwrap()
        .data;
    assert_eq!(found.total, 1);
    assert_eq!(found.conversations[0].id.as_str(), conversation);

    let conversation = ConversationId::new(conversation);
    let query = MessageQuery {
        limit: Some(1),
        ..MessageQuery::default()
    };
    let page = env
        .client
        .list_messages(&conversation, &query)
        .await
        .unwrap()
        .data;
    assert_eq!(page.messages.len(), 1);
    assert!(page.next_page);
    assert_eq!(page.messages[0].id.as_str(), second, "newest first");
    assert!(page.messages[0].is_call());
    assert_eq!(
        page.messages[0].meta.as_ref().unwrap().call_seconds(),
        Some(95.0)
    );

    // The documented (unwrapped) shape parses the same way.
    env.sim.with_world(|w| w.set_wrap_message_lists(false));
    let next = MessageQuery {
        last_message_id: page.last_message_id.clone(),
        ..query
    };
    let page2 = env
        .client
        .list_messages(&conversation, &next)
        .await
        .unwrap()
        .data;
    assert_eq!(page2.messages[0].id.as_str(), first);
    assert!(!page2.next_page);

    let text = env
        .client
        .download_transcription(&env.location_id(), &MessageId::new(first))
        .await
        .unwrap()
        .data;
    assert_eq!(text, "Hola, soy Ana.\nBuenos días.");
}
