import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

/**
 * HTTPS_PROXY for every undici call (XDR, Webex, Talos, SMTP excluded): undici ignores
 * the proxy variables unless asked. NO_PROXY is honoured. The Webex websocket gets
 * its own agent (transport/webex/websocket/sdk-socket.ts).
 */
export function useOutboundProxy(proxyUrl: string | undefined): void {
  if (!proxyUrl) return;
  setGlobalDispatcher(new EnvHttpProxyAgent({ httpProxy: proxyUrl, httpsProxy: proxyUrl }));
}
