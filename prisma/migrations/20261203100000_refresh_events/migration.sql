-- CreateTable
CREATE TABLE "refresh_events" (
    "id" BIGSERIAL NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "target_id" UUID NOT NULL,
    "asset_ids" UUID[],
    "origin" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "refresh_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "refresh_events_created_at_idx" ON "refresh_events"("created_at");

