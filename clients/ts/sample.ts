// A sample of the typed client: sign in with a one-time code sent by SMS,
// then renew the tokens. `make check-client` type-checks it against the
// generated types, so it breaks when the contract changes under it.
import { createClient, type ApiError, type TokenPair } from "./index";

/** An error answer of the API, with its HTTP status and stable code. */
export class ApiCallError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | undefined;
  /** Seconds to wait before trying again (429, some 503s). */
  readonly retryAfter: number | undefined;

  constructor(response: Response, body: ApiError) {
    super(`${response.status} ${body.error.code}: ${body.error.message}`);
    this.status = response.status;
    this.code = body.error.code;
    this.requestId = body.error.request_id;
    const retry = response.headers.get("Retry-After");
    this.retryAfter = retry === null ? undefined : Number(retry);
  }
}

/**
 * signInWithOTP sends a code to phone, asks the user for it (askForCode
 * gets the seconds before another code may be requested), verifies it and
 * renews the token pair once, as a client does when its access token
 * expires. It returns the renewed pair.
 */
export async function signInWithOTP(
  baseUrl: string,
  phone: string,
  askForCode: (resendAfter: number) => Promise<string>,
): Promise<TokenPair> {
  const api = createClient({ baseUrl });

  const sent = await api.POST("/v1/auth/otp/send", { body: { phone } });
  if (sent.error) throw new ApiCallError(sent.response, sent.error);
  const code = await askForCode(sent.data.resend_after);

  const verified = await api.POST("/v1/auth/otp/verify", {
    body: { phone, code, device_info: "agency sample.ts" },
  });
  if (verified.error) throw new ApiCallError(verified.response, verified.error);
  // A new user (user.role null) chooses a role next, with PUT /v1/me/role.
  const tokens: TokenPair = verified.data;

  const refreshed = await api.POST("/v1/auth/refresh", {
    body: { refresh_token: tokens.refresh_token },
  });
  if (refreshed.error) throw new ApiCallError(refreshed.response, refreshed.error);
  return refreshed.data;
}

// The types refuse what the contract refuses (tsc fails if they ever stop).
export function typeChecks(): void {
  const api = createClient();
  // @ts-expect-error: the send body's field is `phone`.
  void api.POST("/v1/auth/otp/send", { body: { phon: "+919876543210" } });
  // @ts-expect-error: verify needs the code.
  void api.POST("/v1/auth/otp/verify", { body: { phone: "+919876543210" } });
  // @ts-expect-error: no such path.
  void api.POST("/v1/auth/otp/resend", { body: { phone: "+919876543210" } });
}
