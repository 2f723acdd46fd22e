{ pkgs }: pkgs.megapak.fromList ./pak5.txt
