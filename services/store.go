package services

// ErrDatabaseUnavailable is the answer when the database does not answer.
var ErrDatabaseUnavailable = NewError(KindUnavailable, CodeDatabaseUnavailable, "the database is not reachable")
