/** Thrown inside an admin change's transaction when it would leave no enabled super admin: the change rolls back. */
export class LastSuperAdmin extends Error {}

/** Runs an admin change (its transaction throws LastSuperAdmin to roll back): false when it was refused so. */
export async function unlessLastSuper(change: () => unknown): Promise<boolean> {
  try {
    await change();
    return true;
  } catch (err) {
    if (err instanceof LastSuperAdmin) return false;
    throw err;
  }
}
