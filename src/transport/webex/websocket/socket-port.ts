/**
 * The seam between the supervisor and the Webex SDK: one connection attempt = one SDK
 * instance with its own WDM device and Mercury socket. Tests drive the supervisor with a
 * fake; production uses SdkSocketFactory.
 */
export type OfflineKind = 'transient' | 'permanent' | 'replaced';

export interface SocketEvents {
  activity(activity: unknown): void;
  online(): void;
  offline(kind: OfflineKind, code: number, reason: string): void;
}

export interface SocketConnection {
  /** Resolves once the socket is authorized (buffer_state received); rejects when the SDK gives up. */
  readonly ready: Promise<void>;
  /** Closes the socket and deletes the device, within `timeoutMs` in all; never rejects. */
  close(timeoutMs: number): Promise<void>;
}

export interface SocketFactory {
  open(events: SocketEvents): SocketConnection;
}

/** Resolves with the promise's outcome, or with `onTimeout` after `ms`. */
export function bounded<T>(p: PromiseLike<T>, ms: number, onTimeout: T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => resolve(onTimeout), ms);
    Promise.resolve(p).then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
