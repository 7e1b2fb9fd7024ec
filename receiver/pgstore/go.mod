module github.com/heraldpay/herald/receiver/pgstore

go 1.23.0

require (
	github.com/heraldpay/herald/receiver v0.0.0-00010101000000-000000000000
	github.com/heraldpay/herald/webhook v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.7.6
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.37.0 // indirect
	golang.org/x/sync v0.13.0 // indirect
	golang.org/x/text v0.24.0 // indirect
)

replace (
	github.com/heraldpay/herald/receiver => ..
	github.com/heraldpay/herald/webhook => ../../webhook
)
