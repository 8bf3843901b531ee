CREATE TABLE `counters` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
-- Ports so far were whatever each node picked (duplicates across nodes); control assigns them now
-- (backfilled at start, streams/srt-ports.ts ensureSrtPorts).
UPDATE `streams` SET `srt_port` = NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `streams_srt_port_unique` ON `streams` (`srt_port`);