// Package sdkmodules holds the test that the merchant SDK's modules
// (webhook, client, receiver, receiver/pgstore) stand alone: a merchant's
// module that requires them keeps its own go line and pulls in none of the
// server's dependencies. It has no code of its own.
package sdkmodules
