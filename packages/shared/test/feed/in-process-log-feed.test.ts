import { InProcessLogFeed } from '../../src/feed/in-process-log-feed.js';
import { describeLogFeedContract } from '../../src/feed/log-feed.contract.js';

describeLogFeedContract('InProcessLogFeed', async () => {
  const feed = new InProcessLogFeed();
  return { feed, store: async (events) => feed.publish(events), close: async () => {} };
});
