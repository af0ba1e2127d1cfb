/**
 * registry — a client for the OCI distribution spec: authentication (anonymous, bearer tokens
 * from `WWW-Authenticate` challenges, basic; credentials from Docker's config.json, credential
 * helpers and containers' auth.json), retries with back-off, resumable blob downloads, blob
 * uploads (mount, monolithic, chunked), manifests, the registry's `ImageReader` and `ImageWriter`,
 * and pull and push over the transfer engine of transport/ (`transferImage`). `RegistryClient` is composed of small layers as
 * go-containerregistry's transport is, `retry(auth(http))`: `retry-transport.ts`,
 * `auth-transport.ts` (with `bearer-token.ts`), `http-transport.ts` (docs/architecture.md, "The
 * registry client"). Depends on util, oci, reference and transport (the
 * reader/writer interfaces and the engine); the store plugs in structurally through `BlobSink`.
 */
export * from './docker-config.ts';
export * from './insecure-hosts.ts';
export * from './login.ts';
export * from './pull-image.ts';
export * from './push-image.ts';
export * from './redact.ts';
export * from './registry-client.ts';
export * from './registry-error.ts';
export * from './registry-reader.ts';
export * from './registry-writer.ts';
export * from './remote-blob.ts';
export * from './remote-image.ts';
export * from './retry-policy.ts';
export * from './tls-trust.ts';
export * from './www-authenticate.ts';
