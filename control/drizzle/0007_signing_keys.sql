CREATE TABLE `signing_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`alg` text NOT NULL,
	`public_jwk` text NOT NULL,
	`managed` integer DEFAULT false NOT NULL,
	`private_pem` text,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
