CREATE TABLE `agent_models` (
	`agent_id` text NOT NULL,
	`model` text NOT NULL,
	`loaded` integer NOT NULL,
	`memory_bytes` integer,
	PRIMARY KEY(`agent_id`, `model`)
);
--> statement-breakpoint
CREATE INDEX `agent_models_model_idx` ON `agent_models` (`model`);--> statement-breakpoint
CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`engine` text NOT NULL,
	`version` text NOT NULL,
	`max_jobs` integer NOT NULL,
	`reserved_jobs` integer DEFAULT 0 NOT NULL,
	`reported_jobs` integer DEFAULT 0 NOT NULL,
	`state` text DEFAULT 'healthy' NOT NULL,
	`stats` text NOT NULL,
	`rtt_ms` real,
	`tokens_per_second` real,
	`registered_at` integer NOT NULL,
	`last_heartbeat_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agents_state_idx` ON `agents` (`state`);--> statement-breakpoint
CREATE TABLE `tickets` (
	`jti` text PRIMARY KEY NOT NULL,
	`agent_id` text NOT NULL,
	`model` text NOT NULL,
	`client` text NOT NULL,
	`state` text DEFAULT 'issued' NOT NULL,
	`issued_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`finished_at` integer,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`ttft_ms` real,
	`duration_ms` real,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `tickets_state_expires_idx` ON `tickets` (`state`,`expires_at`);--> statement-breakpoint
CREATE INDEX `tickets_agent_idx` ON `tickets` (`agent_id`);