// How one change of the training page's feed updates its snapshot: the same
// code runs in the server (view/feed.ts) and in the page (page.js).

/**
 * The snapshot after `event` (see `ViewEvent` in view/feed.ts): the same
 * object updated, or the event's own snapshot.
 *
 * @param {any} snapshot
 * @param {any} event
 * @returns {any}
 */
export function applyEvent(snapshot, event) {
  switch (event.type) {
    case "snapshot":
      return event.snapshot;
    case "line":
      snapshot.lines.push(event.line);
      break;
    case "progress":
      snapshot.progress = event.progress;
      break;
    case "epoch":
      snapshot.history.push(event.record);
      snapshot.evaluation = event.evaluation;
      snapshot.checkpoint = event.checkpoint;
      break;
    case "status":
      snapshot.status = event.status;
      break;
  }
  return snapshot;
}
