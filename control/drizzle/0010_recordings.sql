CREATE TABLE `assets` (
	`id` text PRIMARY KEY NOT NULL,
	`stream_id` text,
	`node_id` text,
	`status` text NOT NULL,
	`playback_policy` text NOT NULL,
	`duration_seconds` real NOT NULL,
	`renditions` text NOT NULL,
	`segments` integer NOT NULL,
	`bytes` integer NOT NULL,
	`sessions` integer NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`deleted_at` integer,
	`removed_at` integer
);
--> statement-breakpoint
CREATE INDEX `assets_stream_idx` ON `assets` (`stream_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `assets_created_idx` ON `assets` (`created_at`,`id`);--> statement-breakpoint
ALTER TABLE `streams` ADD `record` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `streams` ADD `recording_retention_days` integer;