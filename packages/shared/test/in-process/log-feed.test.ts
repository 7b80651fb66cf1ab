import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';
import { InProcessLogFeed } from '../../src/in-process/log-feed.js';

describeLogFeedContract('InProcessLogFeed', async () => {
  const feed = new InProcessLogFeed();
  let position = 0;
  return {
    feed,
    store: async (events) => feed.publish(events.map((event) => ({ event, position: ++position }))),
    close: async () => {},
  };
});
