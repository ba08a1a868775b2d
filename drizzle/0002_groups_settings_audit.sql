CREATE TABLE "group_settings" (
	"group_id" uuid NOT NULL,
	"key" text NOT NULL,
	"value" jsonb NOT NULL,
	CONSTRAINT "group_settings_group_id_key_pk" PRIMARY KEY("group_id","key")
);
--> statement-breakpoint
DROP INDEX "audit_events_action_idx";--> statement-breakpoint
ALTER TABLE "group_settings" ADD CONSTRAINT "group_settings_group_id_groups_id_fk" FOREIGN KEY ("group_id") REFERENCES "public"."groups"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_actor_name_idx" ON "audit_events" USING btree (lower("actor_name"),"occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_target_name_idx" ON "audit_events" USING btree (lower("target_name"),"occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_action_idx" ON "audit_events" USING btree ("action","occurred_at","id");