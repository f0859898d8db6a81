// Types for the parts of noVNC's RFB class the Display tab uses (the package ships no types).
declare module '@novnc/novnc' {
  export interface RfbOptions {
    shared?: boolean;
    credentials?: { username?: string; password?: string; target?: string };
    wsProtocols?: string[];
  }
  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | WebSocket, options?: RfbOptions);
    scaleViewport: boolean;
    resizeSession: boolean;
    clipViewport: boolean;
    viewOnly: boolean;
    focusOnClick: boolean;
    background: string;
    qualityLevel: number;
    compressionLevel: number;
    disconnect(): void;
    sendCtrlAltDel(): void;
    focus(options?: FocusOptions): void;
    blur(): void;
    getImageData(): ImageData;
    toBlob(callback: (blob: Blob | null) => void, type?: string, quality?: number): void;
    /** send text to the server's clipboard (QEMU hands it to the guest's vdagent) */
    clipboardPasteFrom(text: string): void;
  }
}
