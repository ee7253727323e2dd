// GHL's official Node SDK (@gohighlevel/api-client) against ghl-sim: every operation the
// simulator serves, called the way the SDK's users call it. Prints a JSON array with one
// {name, ok, status, body} per call; tests/sim/sdk.rs runs it and checks every answer.
const { HighLevel } = require('@gohighlevel/api-client');

const { base, token, locationId, conversationId, messageId } = JSON.parse(process.argv[2]);
// The SDK has no option for its host; this is its own constant.
HighLevel.BASE_URL = base;
const ghl = new HighLevel({ privateIntegrationToken: token, logLevel: 'none' });
const results = [];

async function call(name, f) {
  try {
    const data = await f();
    results.push({ name, ok: true });
    return data;
  } catch (e) {
    results.push({ name, ok: false, status: e.statusCode ?? e.response?.status ?? null, body: e.response?.data ?? String(e) });
    return null;
  }
}

(async () => {
  const c = await call('contacts.createContact', () => ghl.contacts.createContact({ locationId, email: 'sdk@example.com', firstName: 'Sdk' }));
  const contactId = c?.contact?.id;
  await call('contacts.getContact', () => ghl.contacts.getContact({ contactId }));
  await call('contacts.updateContact', () => ghl.contacts.updateContact({ contactId }, { companyName: 'Acme', city: 'Madrid' }));
  await call('contacts.upsertContact', () => ghl.contacts.upsertContact({ locationId, email: 'sdk@example.com', lastName: 'Kit' }));
  await call('contacts.getContacts', () => ghl.contacts.getContacts({ locationId, limit: 10 }));
  await call('contacts.getDuplicateContact', () => ghl.contacts.getDuplicateContact({ locationId, email: 'sdk@example.com' }));
  await call('contacts.searchContactsAdvanced', () => ghl.contacts.searchContactsAdvanced({ locationId, pageLimit: 10 }));
  await call('contacts.addTags', () => ghl.contacts.addTags({ contactId }, { tags: ['a', 'b'] }));
  await call('contacts.removeTags', () => ghl.contacts.removeTags({ contactId }, { tags: ['a'] }));
  // The SDK names the bulk tag update after its operationId, "create-association".
  await call('contacts.createAssociation', () => ghl.contacts.createAssociation({ type: 'add' }, { contacts: [contactId], tags: ['bulk'], locationId }));
  await call('contacts.createNote', () => ghl.contacts.createNote({ contactId }, { body: 'hello' }));
  await call('contacts.getAllNotes', () => ghl.contacts.getAllNotes({ contactId }));
  await call('locations.getLocation', () => ghl.locations.getLocation({ locationId }));
  await call('locations.getCustomFields', () => ghl.locations.getCustomFields({ locationId }));
  const field = await call('locations.createCustomField', () => ghl.locations.createCustomField({ locationId }, { name: 'Sdk Field', dataType: 'TEXT' }));
  const id = field?.customField?.id;
  await call('locations.getCustomField', () => ghl.locations.getCustomField({ locationId, id }));
  await call('locations.updateCustomField', () => ghl.locations.updateCustomField({ locationId, id }, { name: 'Sdk Field 2' }));
  await call('locations.deleteCustomField', () => ghl.locations.deleteCustomField({ locationId, id }));
  const pipelines = await call('opportunities.getPipelines', () => ghl.opportunities.getPipelines({ locationId }));
  const pipeline = pipelines?.pipelines?.[0];
  const o = await call('opportunities.createOpportunity', () => ghl.opportunities.createOpportunity({ pipelineId: pipeline.id, locationId, name: 'Deal', pipelineStageId: pipeline.stages[0].id, status: 'open', contactId }));
  const oid = o?.opportunity?.id;
  await call('opportunities.getOpportunity', () => ghl.opportunities.getOpportunity({ id: oid }));
  await call('opportunities.updateOpportunity', () => ghl.opportunities.updateOpportunity({ id: oid }, { name: 'Deal 2' }));
  await call('opportunities.updateOpportunityStatus', () => ghl.opportunities.updateOpportunityStatus({ id: oid }, { status: 'won' }));
  await call('opportunities.upsertOpportunity', () => ghl.opportunities.upsertOpportunity({ pipelineId: pipeline.id, locationId, contactId, name: 'Deal 3', followers: [], isRemoveAllFollowers: false, followersActionType: 'add' }));
  await call('opportunities.searchOpportunity', () => ghl.opportunities.searchOpportunity({ locationId }));
  await call('opportunities.deleteOpportunity', () => ghl.opportunities.deleteOpportunity({ id: oid }));
  await call('conversations.searchConversation', () => ghl.conversations.searchConversation({ locationId }));
  await call('conversations.getMessages', () => ghl.conversations.getMessages({ conversationId }));
  await call('conversations.exportMessagesByLocation', () => ghl.conversations.exportMessagesByLocation({ locationId, limit: 10, channel: 'Call' }));
  await call('conversations.downloadMessageTranscription', () => ghl.conversations.downloadMessageTranscription({ locationId, messageId }));
  await call('contacts.deleteContact', () => ghl.contacts.deleteContact({ contactId }));
  process.stdout.write(JSON.stringify(results));
})();
