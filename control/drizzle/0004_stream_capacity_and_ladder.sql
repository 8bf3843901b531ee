ALTER TABLE `streams` ADD `reserved_until` integer;--> statement-breakpoint
ALTER TABLE `streams` ADD `admitted_renditions` text;--> statement-breakpoint
ALTER TABLE `streams` ADD `served_renditions` text;