// A ticket's code drawn as a QR code (SVG), here in the browser: the ticket shows at
// the door even where the network does not reach. The server's PNG of the same code
// (`ticketImageUrl`) is offered as a download.

import qrcode from "qrcode-generator";
import { useMemo } from "react";

export function Qr({ value, label, size = 240 }: { value: string; label: string; size?: number }) {
  const { path, count } = useMemo(() => {
    const qr = qrcode(0, "M");
    qr.addData(value, "Byte");
    qr.make();
    const n = qr.getModuleCount();
    let d = "";
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        if (qr.isDark(row, col)) d += `M${col + 4} ${row + 4}h1v1h-1z`;
      }
    }
    return { path: d, count: n };
  }, [value]);
  const box = count + 8; // four modules of quiet zone on each side
  return (
    <svg
      id="ticket-qr"
      role="img"
      aria-label={label}
      data-modules={count}
      width={size}
      height={size}
      viewBox={`0 0 ${box} ${box}`}
      shapeRendering="crispEdges"
    >
      <rect width={box} height={box} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}
