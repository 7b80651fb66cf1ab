import { describe, expect, it } from 'vitest';
import { localCredentials } from '../../src/sqs/log-queue.js';

describe('localCredentials', () => {
  it('makes up a key for a local SQS without one', () => {
    expect(localCredentials('http://elasticmq:9324', {})).toEqual({ credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    expect(localCredentials('http://127.0.0.1:4566', {})).toHaveProperty('credentials');
  });

  it('leaves AWS endpoints to the default provider chain (keys or the pod’s IAM role)', () => {
    expect(localCredentials('https://sqs.us-east-1.amazonaws.com', {})).toEqual({});
    expect(localCredentials('https://sqs.cn-north-1.amazonaws.com.cn', {})).toEqual({});
  });

  it('uses configured keys and no endpoint as they are', () => {
    expect(localCredentials('http://elasticmq:9324', { AWS_ACCESS_KEY_ID: 'AKIA' })).toEqual({});
    expect(localCredentials(undefined, {})).toEqual({});
  });
});
