package services

// Code is a stable, machine-readable error code, sent to clients as
// error.code. This list is closed and is the one openapi.yaml documents
// (its "Error codes" table; a test fails when they differ). A few codes are
// raised only by the HTTP layer; they are listed here all the same, so the
// vocabulary has one home.
type Code string

// The error codes, in the order of openapi.yaml's table.
const (
	CodeInvalidRequest       Code = "invalid_request"
	CodeInvalidPhone         Code = "invalid_phone"
	CodeBodyTooLarge         Code = "body_too_large"         // HTTP layer only
	CodeUnsupportedMediaType Code = "unsupported_media_type" // HTTP layer only
	CodeInvalidOTP           Code = "invalid_otp"
	CodeOTPAttemptsExceeded  Code = "otp_attempts_exceeded"
	CodeOTPResendTooSoon     Code = "otp_resend_too_soon"
	CodeRateLimited          Code = "rate_limited"
	CodeSMSFailed            Code = "sms_failed"
	CodeInvalidRefreshToken  Code = "invalid_refresh_token"
	CodeRefreshTokenReused   Code = "refresh_token_reused"
	CodeInvalidIDToken       Code = "invalid_id_token"
	CodeInvalidAccessToken   Code = "invalid_access_token"
	CodeUnauthorized         Code = "unauthorized"
	CodeRoleRequired         Code = "role_required"
	CodeForbidden            Code = "forbidden"
	CodeReauthRequired       Code = "reauth_required"
	CodeValidationFailed     Code = "validation_failed"
	CodeInvalidRole          Code = "invalid_role"
	CodeRoleAlreadySet       Code = "role_already_set"
	CodeIdentityInUse        Code = "identity_in_use"
	CodeLastIdentity         Code = "last_identity"
	CodeLastAdmin            Code = "last_admin"
	CodeNotFound             Code = "not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed" // HTTP layer only
	CodeInternalError        Code = "internal_error"     // HTTP layer only
	CodeProviderDisabled     Code = "provider_disabled"
	CodeProviderUnavailable  Code = "provider_unavailable"
	CodeDatabaseUnavailable  Code = "database_unavailable"
	CodeUnavailable          Code = "unavailable"
	CodeMigrationsPending    Code = "migrations_pending"
	CodeRequestCancelled     Code = "request_cancelled" // HTTP layer only
)

// Codes lists every error code, in the order above.
func Codes() []Code {
	return []Code{
		CodeInvalidRequest, CodeInvalidPhone, CodeBodyTooLarge, CodeUnsupportedMediaType, CodeInvalidOTP,
		CodeOTPAttemptsExceeded, CodeOTPResendTooSoon, CodeRateLimited, CodeSMSFailed, CodeInvalidRefreshToken,
		CodeRefreshTokenReused, CodeInvalidIDToken, CodeInvalidAccessToken, CodeUnauthorized, CodeRoleRequired,
		CodeForbidden, CodeReauthRequired, CodeValidationFailed, CodeInvalidRole, CodeRoleAlreadySet,
		CodeIdentityInUse, CodeLastIdentity, CodeLastAdmin, CodeNotFound, CodeMethodNotAllowed, CodeInternalError,
		CodeProviderDisabled, CodeProviderUnavailable, CodeDatabaseUnavailable, CodeUnavailable,
		CodeMigrationsPending, CodeRequestCancelled,
	}
}
