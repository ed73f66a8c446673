import { PageSkeleton } from "@/components/shared/page-skeleton";

// Sits below the segment's access check (layout), so a forbidden page still answers 404.
export default function Loading() {
  return <PageSkeleton variant="form" />;
}
