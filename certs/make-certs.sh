#!/usr/bin/env bash
# A local certificate authority and a server certificate for localhost, for running
# notify-gateway over HTTPS/WSS on a development machine:
#
#   certs/make-certs.sh [OUT_DIR]          (default: certs/out, which git ignores)
#   TLS_CERT_FILE=certs/out/server.crt TLS_KEY_FILE=certs/out/server.key build/notify-gateway
#
# Writes ca.key, ca.crt (the CA: trust it in the client), server.key and server.crt (signed by
# the CA, valid for the names in CERT_SANS, default DNS:localhost,IP:127.0.0.1,IP:::1). An
# existing CA in OUT_DIR is kept, so a client that already trusts it keeps working; the server
# certificate is issued anew each run. Private keys are created mode 600. Nothing here is for
# production: use certificates from your own PKI there.
set -euo pipefail

OUT_DIR=${1:-"$(dirname "$0")/out"}
CERT_SANS=${CERT_SANS:-DNS:localhost,IP:127.0.0.1,IP:::1}
CA_DAYS=${CA_DAYS:-3650}
SERVER_DAYS=${SERVER_DAYS:-825}

command -v openssl >/dev/null || { echo "make-certs: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$OUT_DIR"
cd "$OUT_DIR"
umask 077

if [ -s ca.key ] && [ -s ca.crt ]; then
    echo "make-certs: keeping the existing CA in $OUT_DIR/ca.crt"
else
    openssl req -x509 -newkey rsa:2048 -noenc -sha256 -days "$CA_DAYS" \
        -keyout ca.key -out ca.crt -subj "/CN=notify-gateway local development CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    echo "make-certs: new CA in $OUT_DIR/ca.crt"
fi

cat >server.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$CERT_SANS
EOF
openssl req -new -newkey rsa:2048 -noenc -keyout server.key -out server.csr \
    -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -sha256 -days "$SERVER_DAYS" -in server.csr -CA ca.crt -CAkey ca.key \
    -CAcreateserial -CAserial ca.srl -extfile server.ext -out server.crt 2>/dev/null
rm -f server.csr server.ext
chmod 644 ca.crt server.crt
openssl verify -CAfile ca.crt server.crt >/dev/null

echo "make-certs: server certificate for $CERT_SANS in $OUT_DIR/server.crt (key: server.key)"
echo "run:   TLS_CERT_FILE=$PWD/server.crt TLS_KEY_FILE=$PWD/server.key notify-gateway"
echo "trust: $PWD/ca.crt in the client (Node: the socket.io-client option ca; browsers: import it as an authority)"
