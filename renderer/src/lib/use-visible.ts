// Whether an element is on screen, so tiles only stream consoles/thumbnails while seen.
// One IntersectionObserver for every tile: with 500 tiles, one observer each made Chromium
// compute intersections per observer after each layout (~20 ms/s in the 500-tile bench).
import { useEffect, useState, type RefObject } from 'react';

let shared: IntersectionObserver | null = null;
const watchers = new Map<Element, (visible: boolean) => void>();

function observer(): IntersectionObserver {
  shared ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) watchers.get(e.target)?.(e.isIntersecting);
    },
    { rootMargin: '200px' },
  );
  return shared;
}

export function useVisible(ref: RefObject<Element | null>): boolean {
  const [visible, setVisible] = useState(typeof IntersectionObserver === 'undefined');
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const io = observer();
    watchers.set(el, setVisible);
    io.observe(el);
    return () => {
      io.unobserve(el);
      watchers.delete(el);
    };
  }, [ref]);
  return visible;
}
