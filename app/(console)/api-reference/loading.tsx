import { PageSkeleton } from "@/components/shared/page-skeleton";

// Anyone signed in may read the reference: the console layout's sign-in check runs above this.
export default function Loading() {
  return <PageSkeleton />;
}
