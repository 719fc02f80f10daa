/**
 * Ctrl-C (or SIGTERM) stops a sandbox: `stop` tears its pieces down and the process exits 0. A second
 * Ctrl-C while that runs exits at once (130), for when a piece hangs and the user has waited enough.
 */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = async () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write('\nStopping the sandbox…\n');
    await stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void onSignal());
  process.on('SIGTERM', () => void onSignal());
}
