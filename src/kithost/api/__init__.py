"""HTTP only: one router per face, the error envelope, auth dependencies."""
