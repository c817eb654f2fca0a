// Where the compiled templates point: names created by the platform constructs, as props with
// the platform's defaults.
export interface ApiKeyProps {
  /** @default 'imageflow-gateway-api-keys' */
  readonly secretName?: string;
  /**
   * The Secret key whose value is sent verbatim as the header value. Argo cannot prefix a secret,
   * so for `Authorization` the value must already read `Bearer <key>`.
   * @default 'keys'
   */
  readonly key?: string;
  /** @default 'Authorization' */
  readonly header?: string;
}

export interface CompileProps {
  /** @default 'image-processing' */
  readonly namespace?: string;
  /** @default 'http://imageflow-gateway.image-processing.svc.cluster.local:8080' */
  readonly gatewayUrl?: string;
  /** Used unless the pipeline names its own. @default 'imageflow-workflow' */
  readonly serviceAccountName?: string;
  /** Send an API key from a Secret with every gateway call. @default no header */
  readonly apiKey?: ApiKeyProps;
  /** Override the pipeline's fusion switch. @default the pipeline's (on) */
  readonly fusion?: boolean;
}

export const DEFAULT_NAMESPACE = 'image-processing';
export const DEFAULT_GATEWAY_URL = 'http://imageflow-gateway.image-processing.svc.cluster.local:8080';
export const DEFAULT_SERVICE_ACCOUNT = 'imageflow-workflow';
export const DEFAULT_API_KEY_SECRET = 'imageflow-gateway-api-keys';
export const DEFAULT_API_KEY_KEY = 'keys';

export interface ResolvedProps {
  readonly namespace: string;
  readonly gatewayUrl: string;
  readonly serviceAccountName: string;
  readonly apiKey?: Required<ApiKeyProps>;
  readonly fusion?: boolean;
}

export function resolveProps(props: CompileProps = {}): ResolvedProps {
  const gatewayUrl = (props.gatewayUrl ?? DEFAULT_GATEWAY_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(gatewayUrl))
    throw new Error(`gatewayUrl "${props.gatewayUrl}" must be an absolute http:// or https:// URL`);
  return {
    namespace: props.namespace ?? DEFAULT_NAMESPACE,
    gatewayUrl,
    serviceAccountName: props.serviceAccountName ?? DEFAULT_SERVICE_ACCOUNT,
    apiKey: props.apiKey && {
      secretName: props.apiKey.secretName ?? DEFAULT_API_KEY_SECRET,
      key: props.apiKey.key ?? DEFAULT_API_KEY_KEY,
      header: props.apiKey.header ?? 'Authorization',
    },
    fusion: props.fusion,
  };
}
