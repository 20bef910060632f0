import { VOICE_CLOSE_CODES, VoiceCloseCode, describeCloseCode, type CloseAction } from '../../src/protocol/closeCodes';

describe('describeCloseCode', () => {
  it.each([
    [4004, 'AUTHENTICATION_FAILED'],
    [4014, 'DISCONNECTED'],
    [4017, 'E2EE_REQUIRED'],
    [4021, 'RATE_LIMITED'],
    [4022, 'CALL_TERMINATED'],
  ])('gives up on %i (%s)', (code, name) => {
    expect(describeCloseCode(code)).toMatchObject({ code, name, action: 'give-up' });
  });

  it('resumes on 4015 (voice server crashed)', () => {
    expect(describeCloseCode(4015)).toMatchObject({ code: 4015, name: 'VOICE_SERVER_CRASHED', action: 'resume' });
  });

  it.each([
    [4006, 'SESSION_NO_LONGER_VALID'],
    [4009, 'SESSION_TIMEOUT'],
  ])('re-identifies on %i (%s)', (code, name) => {
    expect(describeCloseCode(code)).toMatchObject({ code, name, action: 'reidentify' });
  });

  it.each([1000, 1001, 1005, 1006, 1011, 3000, 4000, 4007, 4008, 4010, 4013, 4018, 4019, 4023, 4999, 0, -1])(
    'treats unknown code %i as transient and resumes',
    (code) => {
      const info = describeCloseCode(code);
      expect(info.code).toBe(code);
      expect(info.name).toBe('TRANSIENT');
      expect(info.action).toBe('resume');
      expect(info.description).toContain(String(code));
    },
  );

  it('gives up on 1015 (RFC 6455: a TLS handshake failure, reported locally for a refused certificate)', () => {
    expect(describeCloseCode(1015)).toMatchObject({ code: 1015, name: 'TLS_HANDSHAKE_FAILED', action: 'give-up' });
  });

  it('mentions DAVE in the 4017 description (what to do about it)', () => {
    expect(describeCloseCode(4017).description).toMatch(/DAVE|max_dave_protocol_version/);
  });
});

describe('VOICE_CLOSE_CODES table', () => {
  const documented = [4001, 4002, 4003, 4004, 4005, 4006, 4009, 4011, 4012, 4014, 4015, 4016, 4017, 4020, 4021, 4022];

  it('holds every documented voice close code and nothing else', () => {
    expect([...VOICE_CLOSE_CODES.keys()].sort((a, b) => a - b)).toEqual(documented);
  });

  it('has consistent entries with a valid action and a description', () => {
    const actions: readonly CloseAction[] = ['resume', 'reidentify', 'give-up'];
    for (const [code, info] of VOICE_CLOSE_CODES) {
      expect(info.code).toBe(code);
      expect(actions).toContain(info.action);
      expect(info.name).toMatch(/^[A-Z0-9_]+$/);
      expect(info.description.length).toBeGreaterThan(0);
      expect(describeCloseCode(code)).toBe(info);
    }
  });

  it('only 4015 resumes among the known codes', () => {
    const resuming = [...VOICE_CLOSE_CODES.values()].filter((i) => i.action === 'resume').map((i) => i.code);
    expect(resuming).toEqual([4015]);
  });
});

describe('VoiceCloseCode', () => {
  it('names every code in the table with the right value', () => {
    const values: number[] = Object.values(VoiceCloseCode);
    expect(values.sort((a, b) => a - b)).toEqual([...VOICE_CLOSE_CODES.keys()].sort((a, b) => a - b));
    expect(VoiceCloseCode.AuthenticationFailed).toBe(4004);
    expect(VoiceCloseCode.SessionNoLongerValid).toBe(4006);
    expect(VoiceCloseCode.SessionTimeout).toBe(4009);
    expect(VoiceCloseCode.Disconnected).toBe(4014);
    expect(VoiceCloseCode.VoiceServerCrashed).toBe(4015);
    expect(VoiceCloseCode.E2eeRequired).toBe(4017);
    expect(VoiceCloseCode.RateLimited).toBe(4021);
    expect(VoiceCloseCode.CallTerminated).toBe(4022);
  });
});
