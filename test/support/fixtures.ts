import { fileURLToPath } from 'node:url';

/** The real Talos roundup files the tests use (see test/fixtures/talos/SOURCES.md). */
export const TALOS_ROUNDUPS_DIR = fileURLToPath(new URL('../fixtures/talos', import.meta.url));
/** Real per-post IOC files from Cisco-Talos/IOCs (see test/fixtures/talos-iocs/SOURCES.md). */
export const TALOS_IOCS_DIR = fileURLToPath(new URL('../fixtures/talos-iocs', import.meta.url));
