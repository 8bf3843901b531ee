CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`key_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `nodes` (
	`id` text PRIMARY KEY NOT NULL,
	`region` text NOT NULL,
	`lat` real NOT NULL,
	`lon` real NOT NULL,
	`public_url` text NOT NULL,
	`ingest` text NOT NULL,
	`capacity` text NOT NULL,
	`encoders` text NOT NULL,
	`media_server` text NOT NULL,
	`version` text NOT NULL,
	`state` text NOT NULL,
	`cordoned` integer DEFAULT false NOT NULL,
	`draining` integer DEFAULT false NOT NULL,
	`load` text NOT NULL,
	`desired_version` integer DEFAULT 0 NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `profiles` (
	`id` text PRIMARY KEY NOT NULL,
	`built_in` integer DEFAULT false NOT NULL,
	`spec` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `streams` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`profile_id` text NOT NULL,
	`playback_policy` text NOT NULL,
	`status` text NOT NULL,
	`region` text,
	`lat` real,
	`lon` real,
	`source` text,
	`node_id` text,
	`key_hash` text NOT NULL,
	`srt_passphrase` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`profile_id`) REFERENCES `profiles`(`id`) ON UPDATE no action ON DELETE restrict,
	FOREIGN KEY (`node_id`) REFERENCES `nodes`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `streams_key_hash_unique` ON `streams` (`key_hash`);--> statement-breakpoint
CREATE INDEX `streams_created_idx` ON `streams` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `streams_status_idx` ON `streams` (`status`);--> statement-breakpoint
CREATE INDEX `streams_node_idx` ON `streams` (`node_id`);--> statement-breakpoint
CREATE INDEX `streams_profile_idx` ON `streams` (`profile_id`);