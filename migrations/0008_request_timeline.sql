ALTER TABLE `tickets` ADD `finish_reason` text;--> statement-breakpoint
ALTER TABLE `tickets` ADD `decision` text;