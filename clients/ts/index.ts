// The typed client of the agency API: openapi-fetch over the types that
// openapi-typescript generates from ../../openapi.yaml into schema.d.ts
// (`make client`; never edit schema.d.ts by hand).
import createFetchClient, { type Client, type ClientOptions } from "openapi-fetch";

import type { components, operations, paths } from "./schema";

export type { components, operations, paths };

/** The body of every error response. */
export type ApiError = components["schemas"]["Error"];
/** What a sign-in or a refresh answers. */
export type TokenPair = components["schemas"]["TokenPair"];

/** A client of the agency API; every path, body and response is typed. */
export type AgencyClient = Client<paths>;

/**
 * createClient returns a client of the instance at options.baseUrl
 * (for example "http://localhost:8080").
 */
export function createClient(options?: ClientOptions): AgencyClient {
  return createFetchClient<paths>(options);
}
