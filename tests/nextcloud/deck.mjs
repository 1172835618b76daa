// The stand-in's imitation of Deck (nextcloud/deck): not written yet (issue 15). Until it is, the stand-in
// answers this app's routes as a Nextcloud without the app does (404), and lists no capability.

/** `kit`: the stand-in's plumbing (see appKit in standin.mjs). */
export function deckApp(kit) { // eslint-disable-line no-unused-vars
  return {};
}
