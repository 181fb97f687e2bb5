#!/bin/sh
# Send example webhooks to the local stack (`make run`), each signed by `payments sign`.
#
#   examples/send.sh                  every example: Stripe's, then PayPal's, in order
#   examples/send.sh BODY.json ...    just those; a body's provider is its folder's name
#
# Environment: INGRESS_URL (default http://127.0.0.1:8000), STATE_DIR (default the repo's
# .payments, where `make run` keeps the credentials it verifies with), PAYMENTS (default
# the repo's .venv/bin/payments).
set -eu
examples=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$examples")
payments=${PAYMENTS:-$repo/.venv/bin/payments}
state_dir=${STATE_DIR:-$repo/.payments}
ingress=${INGRESS_URL:-http://127.0.0.1:8000}

[ "$#" -gt 0 ] || set -- "$examples"/bodies/stripe/*.json "$examples"/bodies/paypal/*.json
for body in "$@"; do
    provider=$(basename "$(dirname "$body")")
    printf '%s %s: ' "$provider" "$(basename "$body" .json)"
    "$payments" sign "$provider" "$body" --curl --url "$ingress/webhooks/$provider" \
        --state-dir "$state_dir" | sh
done
