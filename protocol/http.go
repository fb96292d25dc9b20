package protocol

// HTTP binding: every endpoint is a POST whose body is a COSE_Sign1 made by
// Seal (MediaTypeCOSE); a successful answer is a COSE_Sign1 sealed by the
// ledger for the same device, a refusal an unsigned Error body
// (MediaTypeError) with Code.HTTPStatus.
const (
	MediaTypeCOSE  = `application/cose; cose-type="cose-sign1"`
	MediaTypeError = "application/cbor"

	PathEnrol       = "/v1/enrol"         // EnrolRequest → EnrolResponse
	PathBatches     = "/v1/batches"       // Batch → Ack
	PathStatus      = "/v1/status"        // StatusRequest → StatusSnapshot | StatusDelta (204 when Have is current)
	PathRules       = "/v1/rules"         // RulesRequest → Rules (204 when Have is current)
	PathPending     = "/v1/pending"       // PendingRequest → Pending
	PathLoadInit    = "/v1/loads/init"    // LoadInit → LoadInitResponse
	PathLoadConfirm = "/v1/loads/confirm" // LoadConfirm → LoadConfirmResponse
	PathClaims      = "/v1/claims"        // ClaimRequest → Claims
	PathTransfer    = "/v1/transfers"     // TransferRequest → TransferResponse
)

// HTTPStatus returns the HTTP status a ledger answers an Error of code c
// with: 400 malformed, unsupported-alg; 401 bad-signature, unknown-device;
// 403 revoked, token-invalid; 404 no-pending-load; 409 gap, fork,
// chain-broken, stale-version; 413 too-large; 422 mac-invalid; 429
// rate-limited; 403 the account refusals (spend-only, overdrawn-frozen,
// account-lost, -frozen, -dormant, -cancelled, -expired, pin-invalid,
// pin-locked); 404 no-account; 402 bank-refused; 422 purse-limit,
// amount-limit; 503 bank-unavailable; 403 psam-binding, id-invalid,
// tries-locked; 409 state-refused, write-pending, load-unsettled; 402
// insufficient; 404 unknown-ref; 422 write-mismatch; 500 internal and any
// code this version does not know.
// Clients decide on the Code in the body, not on the status.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeMalformed, CodeUnsupportedAlg:
		return 400
	case CodeBadSignature, CodeUnknownDevice:
		return 401
	case CodeRevoked, CodeTokenInvalid:
		return 403
	case CodeNoPendingLoad:
		return 404
	case CodeGap, CodeFork, CodeChainBroken, CodeStaleVersion:
		return 409
	case CodeTooLarge:
		return 413
	case CodeMACInvalid:
		return 422
	case CodeRateLimited:
		return 429
	case CodeSpendOnly, CodeOverdrawnFrozen, CodeAccountLost, CodeAccountFrozen, CodeAccountDormant,
		CodeAccountCancelled, CodeAccountExpired, CodePINInvalid, CodePINLocked:
		return 403
	case CodeNoAccount:
		return 404
	case CodeBankRefused:
		return 402
	case CodePurseLimit, CodeAmountLimit:
		return 422
	case CodeBankUnavailable:
		return 503
	case CodePSAMBinding:
		return 403
	case CodeIDInvalid, CodeTriesLocked:
		return 403
	case CodeStateRefused, CodeWritePending, CodeLoadUnsettled:
		return 409
	case CodeInsufficient:
		return 402
	case CodeUnknownRef:
		return 404
	case CodeWriteMismatch:
		return 422
	}
	return 500
}

// Retryable reports whether the same request may succeed later unchanged
// (internal, rate-limited, bank-unavailable): the sync client backs off
// and retries those; the others need a different request or an operator.
func (c Code) Retryable() bool {
	return c == CodeInternal || c == CodeRateLimited || c == CodeBankUnavailable
}
