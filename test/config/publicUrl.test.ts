// A loopback publicUrl (the demo's) follows the port the server really listens on; any other is used as written.
import { describe, expect, it } from 'vitest';
import { withListeningPort } from '../../src/node.js';

describe('publicUrl and the listening port', () => {
  it('moves a loopback publicUrl to the port really listened on (PORT=9000 npm start)', () => {
    expect(withListeningPort('http://localhost:8080', 9000)).toBe('http://localhost:9000');
    expect(withListeningPort('http://127.0.0.1:8080', 18080)).toBe('http://127.0.0.1:18080');
    expect(withListeningPort('http://[::1]:8080', 9000)).toBe('http://[::1]:9000');
    expect(withListeningPort('http://localhost:8080/mg', 9000)).toBe('http://localhost:9000/mg');
  });

  it('leaves every other publicUrl as configured: behind a proxy the public port is not ours', () => {
    expect(withListeningPort('https://downloads.example.org', 9000)).toBe('https://downloads.example.org');
    expect(withListeningPort('http://10.0.0.5:8080', 9000)).toBe('http://10.0.0.5:8080');
  });
});
