/**
 * The one error class of clipn-sidecar. Every failure the product reports carries a `code`
 * from the closed list below, so that logs, dead letters, metrics and CLI output can be
 * grouped and alerted on without parsing messages.
 */

/** Every code, with whether retrying the same work can succeed (transient) or not. */
export const ERROR_CODES = {
  // configuration and start-up
  CONFIG_INVALID: false,
  // model bundle and inference
  BUNDLE_MANIFEST_INVALID: false,
  BUNDLE_FILE_MISSING: false,
  BUNDLE_CHECKSUM_MISMATCH: false,
  MODEL_LOAD_FAILED: false,
  EXECUTION_PROVIDER_UNAVAILABLE: false,
  INFERENCE_FAILED: true,
  TOKENIZER_FAILED: false,
  // images (untrusted input)
  IMAGE_EMPTY: false,
  IMAGE_TOO_MANY_BYTES: false,
  IMAGE_TOO_MANY_PIXELS: false,
  IMAGE_ASPECT_UNSUPPORTED: false,
  IMAGE_TRUNCATED: false,
  IMAGE_UNSUPPORTED_FORMAT: false,
  IMAGE_DECODE_FAILED: false,
  IMAGE_SOURCE_FORBIDDEN: false,
  IMAGE_FETCH_FAILED: true,
  IMAGE_FETCH_TIMEOUT: true,
  IMAGE_NOT_FOUND: false,
  // records
  INPUT_INVALID: false,
  CODEC_UNKNOWN_FINGERPRINT: false,
  CODEC_DECODE_FAILED: false,
  CODEC_ENCODE_FAILED: false,
  // label sets and model releases
  LABEL_SET_INVALID: false,
  LABEL_SET_UNKNOWN: true,
  RELEASE_INVALID: false,
  // a side-channel record that is unsigned, signed by a key that is not trusted, or whose signature does not verify
  SIGNATURE_INVALID: false,
  // kafka and process lifecycle
  KAFKA_ERROR: true,
  OUTPUT_TOO_LARGE: false,
  SHUTDOWN_TIMEOUT: false,
  // work stopped by shutdown before it finished: not delivered, not committed, redone after a restart
  INTERRUPTED: true,
  // plugins: a plugin's failure names it; retriable when the plugin said so
  PLUGIN_FAILED: false,
  // trainer
  TRAINER_KERNEL_FAILED: true,
  TRAINER_SAMPLES_INVALID: false,
  TRAINER_KERNEL_TIMEOUT: true,
  TRAINER_OUTPUT_INVALID: false,
  TRAINER_STORE_CORRUPT: false,
  TRAINER_RELEASE_NOT_FOUND: false,
  TRAINER_LABEL_SET_UNKNOWN: true,
  // anything not foreseen above
  INTERNAL: false,
} as const satisfies Record<string, boolean>;

/** A code from the closed list. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Options of {@link ClipnError}. */
export interface ClipnErrorOptions {
  /** The underlying error, kept for logs. */
  cause?: unknown;
  /** Overrides the code's default retriability. */
  retriable?: boolean;
  /** Structured context (file names, field paths, limits): safe to log. */
  details?: Readonly<Record<string, unknown>>;
}

/** The base error: a code from {@link ERROR_CODES}, a message, a cause, and whether to retry. */
export class ClipnError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ClipnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClipnError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code];
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** A plain object for JSON logs and CLI output. */
  toJSON(): { code: ErrorCode; message: string; retriable: boolean; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, retriable: this.retriable, details: { ...this.details } };
  }
}

/** True when `value` is a {@link ClipnError}, optionally of one code. */
export function isClipnError(value: unknown, code?: ErrorCode): value is ClipnError {
  return value instanceof ClipnError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a {@link ClipnError}, keeping an existing one as it is. */
export function toClipnError(value: unknown, fallback: ErrorCode = 'INTERNAL'): ClipnError {
  if (value instanceof ClipnError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new ClipnError(fallback, message, { cause: value });
}
