import { InProcessLogFeed } from '../../src/feed/in-process-log-feed.js';
import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';

describeLogFeedContract('InProcessLogFeed', async () => {
  const feed = new InProcessLogFeed();
  let position = 0;
  return {
    feed,
    store: async (events) => feed.publish(events.map((event) => ({ event, position: ++position }))),
    close: async () => {},
  };
});
