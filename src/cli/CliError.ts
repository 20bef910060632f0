import { RxVoiceError } from '../errors';

/** Codes of {@link CliError}. */
export type CliErrorCode =
  /** Unknown flag, missing or malformed value, missing input. Exit status 2. */
  | 'BAD_ARGUMENTS'
  /** The main gateway rejected the token (close 4004, or HTTP 401 from `/gateway/bot`). Exit status 3. */
  | 'AUTHENTICATION_FAILED'
  /** ffmpeg is needed and missing, or the input cannot be read. Exit status 4. */
  | 'INPUT_FAILED'
  /** The main gateway could not be reached or refused the session (other close codes, timeouts). Exit status 5. */
  | 'GATEWAY_FAILED'
  /** The voice channel could not be joined (unknown guild or channel, no voice server, voice connection error). Exit status 6. */
  | 'JOIN_FAILED';

/** The process exit status of each {@link CliErrorCode}; anything else exits with 1. */
export const EXIT_STATUS: Readonly<Record<CliErrorCode, number>> = {
  BAD_ARGUMENTS: 2,
  AUTHENTICATION_FAILED: 3,
  INPUT_FAILED: 4,
  GATEWAY_FAILED: 5,
  JOIN_FAILED: 6,
};

/** A failure of the `rxvoice` command line, with the exit status it maps to. Never carries the token. */
export class CliError extends RxVoiceError<CliErrorCode> {
  get exitStatus(): number {
    return EXIT_STATUS[this.code];
  }
}
