/**
 * A paste for trying `investigate` in the sandbox, built from IOCs of the demo
 * roundup (src/sandbox/demo/talos/2021/0723.json) as the demo XDR scenario
 * (src/emulators/xdr/demo-scenario.ts) answers them: the hash is Malicious
 * (Secure Endpoint) and sighted on DESKTOP-AU3IP5K, api.ipify.org is Suspicious
 * (Umbrella), microsoft.com is Clean (Talos), the IP is Unknown. Defanged on
 * purpose, as IOCs arrive in e-mails and tickets.
 */
export const SANDBOX_INVESTIGATE_EXAMPLE =
  'investigate Ticket 4711: the user forwarded a mail linking hxxps://api[.]ipify[.]org/ and an attachment ' +
  '04d7b99844bc3f96cf40626997c70cba58237b829187a3f5a349bdd84e03a820 that talked to microsoft[.]com and 96[.]6[.]27[.]90';
