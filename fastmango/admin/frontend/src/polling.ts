// Calls a loader now and again every few seconds while the page is shown and the tab is visible.
import { onBeforeUnmount, onMounted, ref, watch, type Ref } from "vue";

/** `load` runs at once (and when `live` turns on or the tab shows again), then `every` ms after each run ends. */
export function usePolling(
  load: () => Promise<void>,
  every: number,
): { live: Ref<boolean>; refresh: () => Promise<void> } {
  const live = ref(true);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let gone = false;

  function stop(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  async function refresh(): Promise<void> {
    stop();
    try {
      await load();
    } finally {
      stop();
      if (!gone && live.value && !document.hidden) timer = setTimeout(() => void refresh(), every);
    }
  }

  function visibility(): void {
    if (document.hidden) stop();
    else if (live.value) void refresh();
  }

  onMounted(() => {
    document.addEventListener("visibilitychange", visibility);
    void refresh();
  });
  onBeforeUnmount(() => {
    gone = true;
    stop();
    document.removeEventListener("visibilitychange", visibility);
  });
  watch(live, (on) => (on ? void refresh() : stop()));
  return { live, refresh };
}
