import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BadRequestException,
  ForbiddenException,
  InternalErrorException,
  NotFoundException,
  PayloadTooLargeException,
  ProxyTimeoutException,
  RequestHeaderFieldsTooLargeException,
  TooManyRequestsException,
  UnauthorizedException,
  UnsupportedException,
} from 'rocketmq-client-nodejs';
import { AdapterError } from '../core/index.js';
import {
  GrpcStatus,
  RocketMqCode,
  classifyProbeStatus,
  classifyRocketMqError,
  isConnectivityFailure,
  isGrpcError,
} from './classify-error.js';

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

function expectCode(error: unknown, code: string, retriable: boolean, ambiguous: boolean, context = {}) {
  const classified = classifyRocketMqError(error, context);
  assert.ok(classified instanceof AdapterError);
  assert.equal(classified.code, code, classified.message);
  assert.equal(classified.retriable, retriable, `${code} retriable`);
  assert.equal(classified.ambiguous, ambiguous, `${code} ambiguous`);
  if (error instanceof Error) assert.equal(classified.cause, error);
  return classified;
}

describe('classifyRocketMqError: proxy status codes', () => {
  it('TOPIC_NOT_FOUND is a missing destination, or transient right after a reconnect', () => {
    const notFound = new NotFoundException(RocketMqCode.TOPIC_NOT_FOUND, 'topic not exist', 'r1');
    expectCode(notFound, 'ADP_ERR_NO_DESTINATION', false, false);
    expectCode(notFound, 'ADP_ERR_UNAVAILABLE', true, false, { topicNotFoundIsTransient: true });
  });

  it('too large body or properties', () => {
    expectCode(
      new PayloadTooLargeException(RocketMqCode.MESSAGE_BODY_TOO_LARGE, 'body'),
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    );
    expectCode(
      new RequestHeaderFieldsTooLargeException(RocketMqCode.MESSAGE_PROPERTIES_TOO_LARGE, 'props'),
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    );
  });

  it('refused credentials', () => {
    expectCode(new UnauthorizedException(RocketMqCode.UNAUTHORIZED, 'who'), 'ADP_ERR_AUTH', false, false);
    expectCode(new ForbiddenException(RocketMqCode.FORBIDDEN, 'no'), 'ADP_ERR_AUTH', false, false);
  });

  it('throttling is backpressure, retriable and not ambiguous', () => {
    expectCode(
      new TooManyRequestsException(RocketMqCode.TOO_MANY_REQUESTS, 'slow down'),
      'ADP_ERR_BACKPRESSURE',
      true,
      false,
    );
  });

  it('bad requests (message type mismatch on the proxy, illegal property) are rejected for good', () => {
    expectCode(
      new BadRequestException(RocketMqCode.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, 'type'),
      'ADP_ERR_REJECTED',
      false,
      false,
    );
    expectCode(
      new BadRequestException(RocketMqCode.ILLEGAL_MESSAGE_PROPERTY_KEY, 'key'),
      'ADP_ERR_REJECTED',
      false,
      false,
    );
    expectCode(new UnsupportedException(RocketMqCode.UNSUPPORTED, 'nope'), 'ADP_ERR_REJECTED', false, false);
    expectCode(
      new BadRequestException(RocketMqCode.ILLEGAL_TOPIC, 'bad'),
      'ADP_ERR_INVALID_DESTINATION',
      false,
      false,
    );
  });

  it('timeouts and persistence failures inside the broker are ambiguous', () => {
    expectCode(new ProxyTimeoutException(RocketMqCode.PROXY_TIMEOUT, 't'), 'ADP_ERR_TIMEOUT', true, true);
    expectCode(
      new ProxyTimeoutException(RocketMqCode.MASTER_PERSISTENCE_TIMEOUT, 'flush'),
      'ADP_ERR_TIMEOUT',
      true,
      true,
    );
    expectCode(
      new InternalErrorException(RocketMqCode.HA_NOT_AVAILABLE, 'slave'),
      'ADP_ERR_TIMEOUT',
      true,
      true,
    );
    expectCode(
      new InternalErrorException(RocketMqCode.INTERNAL_SERVER_ERROR, 'boom'),
      'ADP_ERR_INTERNAL',
      true,
      true,
    );
  });
});

describe('classifyRocketMqError: gRPC failures', () => {
  it('recognises grpc-js errors without importing grpc-js', () => {
    assert.equal(isGrpcError(grpcError(14, 'x')), true);
    assert.equal(isGrpcError(new NotFoundException(40402, 'x')), false);
    assert.equal(isGrpcError(new Error('plain')), false);
  });

  it('UNAVAILABLE without a connection: nothing was sent', () => {
    const error = grpcError(
      GrpcStatus.UNAVAILABLE,
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:8081',
    );
    expectCode(error, 'ADP_ERR_UNAVAILABLE', true, false);
    assert.equal(isConnectivityFailure(error), true);
  });

  it('UNAVAILABLE mid-call, or after client retries, may have been stored', () => {
    expectCode(
      grpcError(GrpcStatus.UNAVAILABLE, 'Connection dropped'),
      'ADP_ERR_CONNECTION_LOST',
      true,
      true,
    );
    expectCode(
      grpcError(GrpcStatus.UNAVAILABLE, 'No connection established'),
      'ADP_ERR_CONNECTION_LOST',
      true,
      true,
      {
        clientMayHaveRetried: true,
      },
    );
  });

  it('deadline exceeded is an ambiguous timeout; cancelled a lost connection', () => {
    expectCode(grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'ADP_ERR_TIMEOUT', true, true);
    expectCode(grpcError(GrpcStatus.CANCELLED, 'Cancelled on client'), 'ADP_ERR_CONNECTION_LOST', true, true);
    assert.equal(isConnectivityFailure(grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'x')), true);
  });

  it('authentication and protocol failures', () => {
    expectCode(grpcError(GrpcStatus.UNAUTHENTICATED, 'x'), 'ADP_ERR_AUTH', false, false);
    expectCode(grpcError(GrpcStatus.PERMISSION_DENIED, 'x'), 'ADP_ERR_AUTH', false, false);
    expectCode(grpcError(GrpcStatus.UNIMPLEMENTED, 'x'), 'ADP_ERR_REJECTED', false, false);
    expectCode(grpcError(GrpcStatus.RESOURCE_EXHAUSTED, 'x'), 'ADP_ERR_BACKPRESSURE', true, false);
    expectCode(grpcError(GrpcStatus.INTERNAL, 'x'), 'ADP_ERR_INTERNAL', true, true);
    assert.equal(isConnectivityFailure(grpcError(GrpcStatus.INTERNAL, 'x')), false);
  });
});

describe("classifyRocketMqError: the client's own checks", () => {
  it('message type not accepted by the topic is rejected', () => {
    const error = new TypeError(
      'Current message type not match with topic accept message types, topic=t, actualMessageType=1, acceptMessageTypes=[2]',
    );
    const classified = expectCode(error, 'ADP_ERR_REJECTED', false, false);
    assert.match(classified.message, /FIFO topic needs fifo: true/);
  });

  it('body too large, producer not running, no writable queue', () => {
    expectCode(
      new TypeError('Message body size exceeds the threshold, max size=4194304 bytes'),
      'ADP_ERR_TOO_LARGE',
      false,
      false,
    );
    expectCode(new Error('Producer is not running now'), 'ADP_ERR_UNAVAILABLE', true, false);
    expectCode(
      new Error('No writable message queue found, topicRouteData={}'),
      'ADP_ERR_UNAVAILABLE',
      true,
      false,
    );
  });

  it('unwraps the startup wrapper to the real cause', () => {
    const wrapped = new Error('Startup the rocketmq client failed', {
      cause: grpcError(GrpcStatus.UNAVAILABLE, 'No connection established'),
    });
    assert.equal(classifyRocketMqError(wrapped).code, 'ADP_ERR_UNAVAILABLE');
  });

  it('anything else is internal: retriable and ambiguous, the safe side', () => {
    expectCode(new Error('something odd'), 'ADP_ERR_INTERNAL', true, true);
    assert.equal(classifyRocketMqError('a string').code, 'ADP_ERR_INTERNAL');
  });

  it('keeps AdapterErrors as they are', () => {
    const original = new AdapterError('ADP_ERR_TIMEOUT', 'ours');
    assert.equal(classifyRocketMqError(original), original);
  });
});

describe('classifyProbeStatus', () => {
  it('any answer means reachable, except refused credentials', () => {
    assert.equal(classifyProbeStatus({ code: RocketMqCode.OK, message: 'OK' }), undefined);
    assert.equal(classifyProbeStatus({ code: 40015, message: 'cannot find client settings' }), undefined);
    assert.equal(
      classifyProbeStatus({ code: RocketMqCode.UNAUTHORIZED, message: 'bad signature' })?.code,
      'ADP_ERR_AUTH',
    );
  });
});
